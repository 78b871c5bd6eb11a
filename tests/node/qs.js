// Parse query strings as Express 4's default query parser does:
// qs.parse(query, {allowPrototypes: true}) with the qs Express itself depends on.
// stdin: a JSON list of query strings; stdout: the JSON list of what each parses to.
const qs = require(require.resolve("qs", { paths: [require.resolve("express")] }));
const queries = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(queries.map((query) => qs.parse(query, { allowPrototypes: true }))));
