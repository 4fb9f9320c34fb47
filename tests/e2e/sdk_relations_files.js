// Relations (add, remove, relation.query()) and files (upload, attach, download) as a logged-in user.
// Usage: node sdk_relations_files.js <host:port>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

const names = people => people.map(person => person.get('name'));

report(async () => {
  const anonymousUpload = await failure(new Parse.File('note.txt', { base64: 'aGk=' }).save());
  await Parse.User.signUp('writer', 'ink-and-paper');
  const [alice, bob, carol] = await Parse.Object.saveAll(
    ['Alice', 'Bob', 'Carol'].map(name => new Parse.Object('Author', { name })),
  );
  const book = new Parse.Object('Book', { title: 'Collected' });
  book.relation('authors').add([alice, bob, carol]);
  await book.save();
  const authors = names(await book.relation('authors').query().ascending('name').find());

  book.relation('authors').remove(bob);
  await book.save();
  const fresh = await new Parse.Query('Book').get(book.id);
  const afterRemove = names(await fresh.relation('authors').query().ascending('name').find());
  const booksOfCarol = await new Parse.Query('Book').equalTo('authors', carol).count();

  // Every byte value, so an encoding slip anywhere on the way shows.
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const file = await new Parse.File('cover.bin', { base64: bytes.toString('base64') }, 'application/octet-stream').save();
  await fresh.save({ cover: file });
  const found = await new Parse.Query('Book').equalTo('title', 'Collected').first();
  const cover = found.get('cover');
  const response = await fetch(cover.url());
  const downloaded = Buffer.from(await response.arrayBuffer());
  return {
    anonymousUpload,
    authors,
    afterRemove,
    booksOfCarol,
    file: { name: cover.name(), url: cover.url(), status: response.status },
    downloaded: downloaded.toString('base64'),
  };
});
