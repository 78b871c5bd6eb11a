// Sign with the npm `svix` package, which sends its own svix-* header names.
// stdin: {"secret", "id", "timestamp", "body"}; stdout: the headers it produces.
const { Webhook } = require("svix");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const date = new Date(input.timestamp * 1000);
const signature = new Webhook(input.secret).sign(input.id, date, input.body);
console.log(JSON.stringify({
  "svix-id": input.id,
  "svix-timestamp": String(input.timestamp),
  "svix-signature": signature,
}));
