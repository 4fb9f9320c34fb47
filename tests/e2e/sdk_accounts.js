// Sign up, log in, current user, log out, and an object only its owner may read.
// Usage: node sdk_accounts.js <host:port>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

const titles = notes => notes.map(note => note.get('title')).sort();

report(async () => {
  const ada = await Parse.User.signUp('ada', 'lovelace-1815', { email: 'ada@example.com' });
  const signUp = { username: ada.get('username'), hasSession: Boolean(ada.getSessionToken()), id: ada.id };
  const afterSignUp = Parse.User.current();
  const secret = new Parse.Object('Note', { title: 'ada private' });
  secret.setACL(new Parse.ACL(ada));
  await secret.save();
  await new Parse.Object('Note', { title: 'ada public' }).save();
  await Parse.User.logOut();
  const afterLogOut = Parse.User.current();

  await Parse.User.signUp('grace', 'hopper-1906');
  const graceSees = titles(await new Parse.Query('Note').find());
  const graceGetsPrivate = await failure(new Parse.Query('Note').get(secret.id));
  const graceEdits = await failure(secret.save({ title: 'defaced' }));
  await Parse.User.logOut();

  const anonymousSees = titles(await new Parse.Query('Note').find());
  const wrongPassword = await failure(Parse.User.logIn('ada', 'wrong'));
  const again = await Parse.User.logIn('ada', 'lovelace-1815');
  const adaSees = titles(await new Parse.Query('Note').find());
  const me = await Parse.User.me(again.getSessionToken());
  return {
    signUp,
    currentAfterSignUp: afterSignUp && afterSignUp.get('username'),
    currentAfterLogOut: afterLogOut,
    graceSees,
    graceGetsPrivate,
    graceEdits,
    anonymousSees,
    wrongPassword,
    logIn: { id: again.id, email: again.get('email'), current: Parse.User.current().id },
    adaSees,
    me: me.get('username'),
  };
});
