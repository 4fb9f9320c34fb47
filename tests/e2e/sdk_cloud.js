// Cloud functions and a beforeSave trigger from the shipped cloud/main.py, through the SDK.
// Usage: node sdk_cloud.js <host:port>
const { connect, failure, report } = require('./sdk');
const Parse = connect(process.argv[2]);

report(async () => {
  const order = await new Parse.Object('Order', { total: 12, items: ['tea'] }).save();
  return {
    hello: await Parse.Cloud.run('hello', { name: 'Ada' }),
    helloWorld: await Parse.Cloud.run('hello'),
    missing: await failure(Parse.Cloud.run('nowhere')),
    negativeOrder: await failure(new Parse.Object('Order', { total: -5 }).save()),
    savedOrder: { status: order.get('status'), total: order.get('total') },
    negativeOrders: await new Parse.Query('Order').lessThan('total', 0).count(),
  };
});
