import express from 'express';

/** The baseline: an express endpoint that does nothing but answer 202. */
const app = express();
app.disable('x-powered-by');
app.post('/webhooks/cognigy', (_req, res) => {
  res.status(202).json({ status: 'accepted' });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : ''}\n`);
});
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => server.close(() => process.exit(0)));
