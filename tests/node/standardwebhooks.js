// Sign with the npm `standardwebhooks` package. stdin: {"secret", "id", "timestamp", "body"};
// stdout: the headers it produces.
const { Webhook } = require("standardwebhooks");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const date = new Date(input.timestamp * 1000);
const signature = new Webhook(input.secret).sign(input.id, date, input.body);
console.log(JSON.stringify({
  "webhook-id": input.id,
  "webhook-timestamp": String(input.timestamp),
  "webhook-signature": signature,
}));
