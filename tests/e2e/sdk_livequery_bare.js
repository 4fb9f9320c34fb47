// A LiveQuery subscription through ws://host:port, with no path, as several clients connect: it gets its create
// event. Usage: node sdk_livequery_bare.js <host:port>
const { connect, report } = require('./sdk');
const Parse = connect(process.argv[2]);
Parse.liveQueryServerURL = `ws://${process.argv[2]}`;

report(async () => {
  const subscription = await new Parse.Query('Bare').subscribe();
  await new Promise(resolve => subscription.on('open', resolve));
  const created = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no create event within 10 s')), 10000);
    subscription.on('create', object => {
      clearTimeout(timer);
      resolve(object.get('word'));
    });
  });
  await new Parse.Object('Bare', { word: 'hello' }).save();
  const word = await created;
  await subscription.unsubscribe();
  return { url: Parse.liveQueryServerURL, created: word };
});
