// The SDK's query constraints: startsWith, containedIn, matchesQuery, include, near, withinKilometers,
// count, ascending, descending, endsWith, or, findAll and select. Usage: node sdk_queries.js <host:port>
const { connect, report } = require('./sdk');
const Parse = connect(process.argv[2]);

const COUNTRIES = { France: 'Europe', Germany: 'Europe', Sweden: 'Europe', USA: 'America', India: 'Asia' };
const CITIES = [
  ['Paris', 'France', 2102650, 48.8566, 2.3522],
  ['Lyon', 'France', 522250, 45.764, 4.8357],
  ['Berlin', 'Germany', 3596999, 52.52, 13.405],
  ['Stockholm', 'Sweden', 984748, 59.3293, 18.0686],
  ['St. Louis', 'USA', 281754, 38.627, -90.1994],
  ['Portland', 'USA', 652503, 45.5152, -122.6784],
  ['Pune', 'India', 3124458, 18.5204, 73.8567],
];

const names = cities => cities.map(city => city.get('name'));
const city = () => new Parse.Query('City');

report(async () => {
  const countries = {};
  for (const [name, continent] of Object.entries(COUNTRIES)) {
    countries[name] = await new Parse.Object('Country', { name, continent }).save();
  }
  await Parse.Object.saveAll(
    CITIES.map(
      ([name, country, population, latitude, longitude]) =>
        new Parse.Object('City', {
          name,
          population,
          country: countries[country],
          location: new Parse.GeoPoint(latitude, longitude),
        }),
    ),
  );
  const paris = new Parse.GeoPoint(48.8566, 2.3522);
  const inEurope = new Parse.Query('Country').equalTo('continent', 'Europe');
  const withCountry = await city().equalTo('name', 'Lyon').include('country').first();
  const withoutInclude = await city().equalTo('name', 'Lyon').first();
  return {
    startsWithSt: names(await city().startsWith('name', 'St').ascending('name').find()),
    // A literal dot: "Sto" must not match, as it would if the prefix were read as a pattern.
    startsWithStDot: names(await city().startsWith('name', 'St.').find()),
    containedIn: names(await city().containedIn('name', ['Paris', 'Pune', 'Atlantis']).ascending('name').find()),
    inEurope: names(await city().matchesQuery('country', inEurope).ascending('name').find()),
    notInEurope: names(await city().doesNotMatchQuery('country', inEurope).ascending('name').find()),
    included: withCountry.get('country').get('name'),
    notIncluded: withoutInclude.get('country').get('name') ?? null,
    nearParis: names(await city().near('location', paris).limit(3).find()),
    within500km: names(await city().withinKilometers('location', paris, 500).find()),
    bigCities: await city().greaterThan('population', 1000000).count(),
    mostPopulous: names(await city().descending('population').limit(2).find()),
    leastPopulous: names(await city().ascending('population').limit(2).find()),
    endsWith: names(await city().endsWith('name', 'land').find()),
    either: names(
      await Parse.Query.or(city().equalTo('name', 'Lyon'), city().lessThan('population', 300000)).ascending('name').find(),
    ),
    // In batches of 2, each batch after the last objectId seen: every city exactly once.
    batched: (await city().findAll({ batchSize: 2 })).length,
    selected: Object.keys((await city().select('name').equalTo('name', 'Pune').first()).attributes).sort(),
    // The stored names of the dates, as Parse Server takes them (the countries were saved one after another).
    newestCountries: names(await new Parse.Query('Country').descending('_created_at').find()),
    oldestChanged: names(await new Parse.Query('Country').ascending('_updated_at').limit(2).find()),
  };
});
