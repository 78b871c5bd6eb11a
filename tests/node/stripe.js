// Sign with the npm `stripe` package. stdin: {"secret", "timestamp", "body"};
// stdout: {"Stripe-Signature": ...}.
const Stripe = require("stripe");
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const stripe = new Stripe("sk_test_unused");
const header = stripe.webhooks.generateTestHeaderString({
  payload: input.body,
  secret: input.secret,
  timestamp: input.timestamp,
});
console.log(JSON.stringify({ "Stripe-Signature": header }));
