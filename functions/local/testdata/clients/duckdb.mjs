// Runs SQL queries with DuckDB's Node client (@duckdb/node-api, which ships
// its own engine) in an in-memory database, as a user reads the stored
// objects back.
//
// Reads from stdin a JSON array of queries and prints one JSON array holding,
// for each, its rows as objects (BIGINT and DATE values as strings).
import { DuckDBInstance } from "@duckdb/node-api";

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const queries = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const db = await DuckDBInstance.create(":memory:");
  const conn = await db.connect();
  const results = [];
  for (const q of queries) {
    const reader = await conn.runAndReadAll(q);
    results.push(reader.getRowObjectsJson());
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
