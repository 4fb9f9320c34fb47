// Parse.Analytics.track: a custom event with its dimensions, as an app reports it.
// Usage: node sdk_analytics.js <host:port>
const { connect, report } = require('./sdk');
const Parse = connect(process.argv[2]);

report(async () => {
  const user = await Parse.User.signUp('reader', 'pw');
  return {
    tracked: await Parse.Analytics.track('Search', { category: 'poems', dayType: 'weekday' }),
    user: user.id,
  };
});
