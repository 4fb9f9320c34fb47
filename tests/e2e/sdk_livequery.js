// A LiveQuery subscription of a logged-in user: create, enter, update, leave and delete events, and no
// event for an object another user keeps private. Usage: node sdk_livequery.js <host:port>
const { connect, report } = require('./sdk');
const Parse = connect(process.argv[2]);

// Resolves once `count` events have arrived; rejects after 10 s with what did arrive.
function collector(subscription, count) {
  const events = [];
  return {
    events,
    all: new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only these events arrived: ${events.join(' ')}`)), 10000);
      for (const name of ['create', 'enter', 'update', 'leave', 'delete']) {
        subscription.on(name, (object, original) => {
          // update, enter and leave also give the object as it was; create and delete give the raw message
          const before = ['update', 'enter', 'leave'].includes(name) ? `<-${original.get('score')}` : '';
          events.push(`${name}:${object.get('player')}:${object.get('score')}${before}`);
          if (events.length === count) {
            clearTimeout(timer);
            resolve(events);
          }
        });
      }
    }),
  };
}

report(async () => {
  const margaret = await Parse.User.signUp('margaret', 'hamilton-1936');
  const margaretToken = margaret.getSessionToken(); // kept valid: signing up another user does not log her out
  await Parse.User.signUp('linus', 'torvalds-1969');

  const subscription = await new Parse.Query('Score').greaterThan('score', 100).subscribe();
  const opened = new Promise(resolve => subscription.on('open', resolve));
  const received = collector(subscription, 6);
  await opened;

  const score = await new Parse.Object('Score', { player: 'linus', score: 150 }).save(); // create
  await score.save({ score: 200 }); // update
  await score.save({ score: 50 }); // leave
  await new Parse.Object('Score', { player: 'low', score: 10 }).save(); // never matches: nothing
  const hidden = new Parse.Object('Score', { player: 'margaret', score: 999 });
  hidden.setACL(new Parse.ACL(margaret));
  await hidden.save(null, { sessionToken: margaretToken }); // matches, but linus may not read it: nothing
  await score.save({ score: 300 }); // enter
  await new Parse.Object('Score', { player: 'bob', score: 120 }).save(); // create
  await score.destroy(); // delete
  await received.all;
  await subscription.unsubscribe();
  return { events: received.events };
});
