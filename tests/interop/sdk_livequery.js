// The Parse JavaScript SDK's LiveQuery client against a server: prints the events it receives, in order.
// Usage: node sdk_livequery.js <path to the parse package> <host:port>
const Parse = require(`${process.argv[2]}/node`);
const address = process.argv[3];
Parse.initialize('app', undefined, 'master');
Parse.serverURL = `http://${address}/parse`;
Parse.liveQueryServerURL = `ws://${address}/parse`;

(async () => {
  const events = [];
  const subscription = await new Parse.Query('SdkThing').greaterThan('n', 1).subscribe();
  const opened = new Promise(resolve => subscription.on('open', resolve));
  for (const name of ['create', 'update', 'enter', 'leave', 'delete']) {
    subscription.on(name, object => events.push(`${name}:${object.get('n')}`));
  }
  await opened;
  const thing = await new Parse.Object('SdkThing').save({ n: 2 });
  await thing.save({ n: 3 });
  await thing.save({ n: 0 });
  await thing.save({ n: 5 });
  await thing.destroy();
  const deadline = Date.now() + 5000;
  while (events.length < 5 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
  console.log(events.join(' '));
  await subscription.unsubscribe();
  Parse.LiveQuery.close();
})().catch(error => { console.error(error); process.exit(1); });
