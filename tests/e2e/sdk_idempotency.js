// Parse.idempotency = true: every save and function call carries a fresh X-Parse-Request-Id and works; a request
// replayed with the id of one already run (as a retry after a lost answer would be) is refused.
// Usage: node sdk_idempotency.js <host:port>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

report(async () => {
  Parse.idempotency = true;
  const note = await new Parse.Object('Note', { text: 'first' }).save(); // POST with its own request id
  await note.save({ text: 'edited' }); // PUT with another
  const hello = await Parse.Cloud.run('hello', { name: 'Ada' });
  // A replay: the same id twice, set as the SDK lets an app set any header.
  Parse.CoreManager.set('REQUEST_HEADERS', { 'X-Parse-Request-Id': 'replayed-request' });
  const replayedOnce = await new Parse.Object('Note', { text: 'replayed' }).save();
  const replayedTwice = await failure(new Parse.Object('Note', { text: 'replayed' }).save());
  Parse.CoreManager.set('REQUEST_HEADERS', {});
  return {
    saved: (await new Parse.Query('Note').get(note.id)).get('text'),
    hello,
    replayedOnce: Boolean(replayedOnce.id),
    replayedTwice,
    replayedStored: await new Parse.Query('Note').equalTo('text', 'replayed').count(),
  };
});
