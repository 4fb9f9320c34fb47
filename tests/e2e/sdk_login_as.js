// A password checked without a session (verifyPassword), and support acting as a user (loginAs, master key).
// Usage: node sdk_login_as.js <host:port> <master key>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

report(async () => {
  const turing = await Parse.User.signUp('turing', 'enigma-1912', { email: 'alan@example.com' });
  await Parse.User.logOut();

  const verified = await Parse.User.verifyPassword('turing', 'enigma-1912');
  const currentAfterVerify = Parse.User.current();
  const wrong = await failure(Parse.User.verifyPassword('turing', 'bombe'));

  Parse.masterKey = process.argv[3];
  const actingAs = await Parse.User.loginAs(turing.id);
  Parse.masterKey = undefined;
  const me = await Parse.User.me(actingAs.getSessionToken());
  return {
    verified: { id: verified.objectId, username: verified.username, token: verified.sessionToken || null },
    currentAfterVerify: currentAfterVerify && currentAfterVerify.id,
    wrong,
    actingAs: { id: actingAs.id, hasSession: Boolean(actingAs.getSessionToken()), current: Parse.User.current().id },
    me: me.get('username'),
  };
});
