// Sign with @blocklet/sdk's component client (the axios instance components call each other
// with), capturing the request it would send instead of sending it.
// stdin: {"app_sk", "url", "json"} where json is the body as JSON text; stdout:
// {"headers", "body", "url"}: the exact body text and the signed headers.
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
process.env.BLOCKLET_APP_SK = input.app_sk;
const componentApi = require("@blocklet/sdk/lib/util/component-api").default;
componentApi
  .request({
    method: "POST",
    url: input.url,
    data: JSON.parse(input.json),
    adapter: async (config) => {
      const headers = {};
      for (const name of ["x-component-sig", "x-component-sig-iat", "x-component-sig-exp",
        "x-component-sig-version"]) {
        headers[name] = String(config.headers.get(name));
      }
      console.log(JSON.stringify({ headers, body: config.data, url: config.url }));
      return { data: "", status: 200, statusText: "OK", headers: {}, config };
    },
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
