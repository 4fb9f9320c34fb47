// Push from the SDK with the master key (Parse.Push.send), and its _PushStatus read back (Parse.Push.getPushStatus).
// Usage: node sdk_push.js <host:port> <master key> <an iPhone's token> <its app's bundle id>
const { connect, report } = require('./sdk');
const Parse = connect(process.argv[2]);
Parse.masterKey = process.argv[3];

async function settled(statusId) {
  for (let tries = 0; tries < 300; tries += 1) {
    const status = await Parse.Push.getPushStatus(statusId, { useMasterKey: true });
    if (['succeeded', 'failed'].includes(status.get('status'))) return status;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  throw new Error(`push ${statusId} did not finish`);
}

function install(token, fields) {
  const installation = new Parse.Installation();
  const values = { installationId: `sdk-${token.slice(0, 12)}`, deviceToken: token, deviceType: 'android', ...fields };
  return installation.save(values, { useMasterKey: true });
}

report(async () => {
  await install('sdk-tok-1', { channels: ['giants'], localeIdentifier: 'pt-BR' });
  await install('sdk-tok-2', { channels: ['mets'], appVersion: '3.1' });
  await install(process.argv[4], { deviceType: 'ios', channels: ['giants'], appIdentifier: process.argv[5] });
  const byChannel = await Parse.Push.send(
    { channels: ['giants'], data: { alert: 'Score!', 'alert-pt': 'Gol!', title: 'Giants' } },
    { useMasterKey: true },
  );
  const query = new Parse.Query(Parse.Installation).equalTo('appVersion', '3.1');
  const byQuery = await Parse.Push.send({ where: query, data: { alert: 'Update' } }, { useMasterKey: true });
  const statuses = [await settled(byChannel), await settled(byQuery)];
  return statuses.map(status => ({
    status: status.get('status'),
    numSent: status.get('numSent'),
    query: JSON.parse(status.get('query')),
  }));
});
