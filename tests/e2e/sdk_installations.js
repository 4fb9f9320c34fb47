// The SDK's current installation saved and fetched, found again by its installation id, and the session a log-in
// opens on it. Usage: node sdk_installations.js <host:port> <master key>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

report(async () => {
  const current = await Parse.Installation.currentInstallation();
  current.set('channels', ['news']);
  current.set('timeZone', 'Europe/Paris');
  await current.save();
  const installationId = current.get('installationId');

  const fetched = await new Parse.Installation({ objectId: current.id }).fetch();

  // The app reinstalled, its row's objectId lost: a new object with the same installation id updates that row.
  const again = new Parse.Installation({ deviceType: 'web', installationId: installationId.toUpperCase(), badge: 2 });
  await again.save();
  await current.fetch();

  const user = await Parse.User.signUp('hopper' + (process.argv[4] || ''), 'cobol-1959');
  const signUpSession = await Parse.Session.current();
  await Parse.User.logOut();
  const loggedIn = await Parse.User.logIn('hopper' + (process.argv[4] || ''), 'cobol-1959');
  const session = await Parse.Session.current();
  const endedSignUp = await failure(Parse.User.become(signUpSession.getSessionToken()));
  await Parse.User.become(loggedIn.getSessionToken());

  const clientFind = await failure(new Parse.Query(Parse.Installation).find());
  Parse.masterKey = process.argv[3];
  const inNews = await new Parse.Query(Parse.Installation).equalTo('channels', 'news').find({ useMasterKey: true });
  Parse.masterKey = undefined;
  return {
    installationId,
    saved: { hasId: Boolean(current.id), deviceType: fetched.get('deviceType'), channels: fetched.get('channels') },
    timeZone: fetched.get('timeZone'),
    again: { hasId: Boolean(again.id), badge: current.get('badge'), sameRow: current.id === fetched.id },
    signUpSession: signUpSession.get('installationId'),
    session: { installationId: session.get('installationId'), user: session.get('user').id === user.id },
    endedSignUp,
    clientFind,
    inNews: inNews.map(found => found.get('installationId')),
  };
});
