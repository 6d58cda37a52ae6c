// Starts local-aws-sqs on 127.0.0.1 and prints "listening PORT" once it
// accepts connections. Usage: node serve.mjs [port] (0 or none: any free port).
// The SQS sink's tests start it and kill it when they end.
import { createSqsServer } from "local-aws-sqs";

const server = await createSqsServer({
  port: Number(process.argv[2] ?? 0),
  hostname: "127.0.0.1",
  emulateQueueCreationLifecycle: false,
});
console.log(`listening ${server.address().port}`);
