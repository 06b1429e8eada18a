// Decide AWS requests against identity policies with a real IAM evaluator that honours
// conditions (@cloud-copilot/iam-simulate). Reads {"policies": [...], "requests": [...]} on
// stdin; prints one decision per request: Allowed, ExplicitlyDenied, ImplicitlyDenied, or an
// error message. Used by tests/infra/iam.py.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { policies, requests, account } = JSON.parse(Buffer.concat(chunks).toString())

const decisions = []
for (const request of requests) {
  const response = await runSimulation(
    {
      identityPolicies: policies.map((policy, i) => ({ name: `policy${i}`, policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:iam::${account}:user/under-test`,
        action: request.action,
        resource: { resource: request.resource, accountId: account },
        contextVariables: request.context || {},
      },
    },
    {},
  )
  decisions.push(
    response.resultType === 'error'
      ? `error: ${JSON.stringify(response.errors)}`
      : response.overallResult,
  )
}
process.stdout.write(JSON.stringify(decisions))
