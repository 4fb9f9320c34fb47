// What the SDK scenarios share: the Parse JS SDK pointed at a server, and one JSON report on stdout.
const Parse = require('parse/node');

function connect(address) {
  Parse.initialize('app');
  Parse.serverURL = `http://${address}/parse`;
  Parse.liveQueryServerURL = `ws://${address}/parse`;
  Parse.User.enableUnsafeCurrentUser(); // Parse.User.current() in Node, as an app would use it
  return Parse;
}

// The error a promise rejects with, as {code, message}, or null when it resolves.
async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (error) {
    return { code: error.code, message: error.message };
  }
}

// Runs a scenario and prints what it returns as one line of JSON; exits 1 with the error otherwise.
function report(scenario) {
  scenario().then(
    result => {
      console.log(JSON.stringify(result));
      process.exit(0); // open LiveQuery sockets would keep Node running
    },
    error => {
      console.error(error && error.stack ? error.stack : error);
      process.exit(1);
    },
  );
}

module.exports = { connect, failure, report };
