// A stub OpenAI-compatible model server on 127.0.0.1 for the planner: every
// chat completion answers the same small plan. Prints its base URL.
import { createServer } from 'node:http';

const plan = {
  name: 'weekly-digest',
  description: 'Collects the week\'s stories and formats a digest.',
  steps: [
    { name: 'collect', type: 'noop', config: {} },
    { name: 'format', type: 'transform', config: { template: { digest: 'Top stories: {{ input }}' } } },
  ],
};

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    const body = { choices: [{ message: { role: 'assistant', content: JSON.stringify(plan) } }] };
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`http://127.0.0.1:${server.address().port}/v1`);
});
