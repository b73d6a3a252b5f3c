// Runs every server audit of the official GraphQL-over-HTTP suite (the npm package graphql-http)
// against the URL given as the first argument; prints one JSON object: total, counts by status
// (ok, warn, error) and the audits that are not ok. Used by tests/test_graphql_http.py.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const results = [];
for (const audit of serverAudits({ url })) {
  const result = await audit.fn();
  results.push({ id: audit.id, name: audit.name, status: result.status, reason: result.reason });
}
const counts = { ok: 0, warn: 0, error: 0 };
for (const result of results) counts[result.status] += 1;
const notOk = results.filter((result) => result.status !== 'ok');
console.log(JSON.stringify({ total: results.length, counts, notOk }));
