// Parse 9's file directory through the SDK: `setDirectory` with the master key stores the file under it, the
// SDK's URL downloads it, and a user (no master key) is refused.
// Usage: node sdk_file_directory.js <host:port> <master key>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);
Parse.masterKey = process.argv[3];

report(async () => {
  const file = new Parse.File('cover.txt', { base64: Buffer.from('in a folder').toString('base64') }, 'text/plain');
  file.setDirectory('books/2026');
  await file.save({ useMasterKey: true });
  const note = await new Parse.Object('Shelf', { cover: file }).save(null, { useMasterKey: true });
  const read = await new Parse.Query('Shelf').get(note.id, { useMasterKey: true });
  const response = await fetch(read.get('cover').url());

  await Parse.User.signUp('shelver', 'pw');
  const mine = new Parse.File('mine.txt', { base64: 'aGk=' }, 'text/plain');
  mine.setDirectory('books');
  const refused = await failure(mine.save());
  return {
    name: file.name(),
    url: read.get('cover').url(),
    status: response.status,
    text: await response.text(),
    refused,
  };
});
