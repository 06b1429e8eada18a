// Decide AWS requests with a real IAM evaluator that honours conditions
// (@cloud-copilot/iam-simulate). Used by tests/infra/iam.py. Reads on stdin either
//   {"policies": [...], "requests": [...], "account": ...}: S3 requests against identity
//     policies; or
//   {"trust": {...}, "role": ARN, "requests": [...], "account": ...}: sts:AssumeRoleWithWebIdentity
//     against a role's trust policy, each request naming its federated principal (the IAM OIDC
//     provider of the token's issuer) and the token's claims as context keys (HOST:sub, HOST:aud).
// Prints one decision per request: Allowed, ExplicitlyDenied, ImplicitlyDenied, or an error.
//
// Trust requests go to the simulator's core engine: its public entry point checks context keys
// against a list that names only some issuers' keys (GitHub's extra claims, not the `HOST:sub`
// and `HOST:aud` IAM has for every OIDC provider) and drops the rest, so every condition would
// fail as missing. The trust policy is validated first as a trust policy.
import { loadPolicy, validateTrustPolicy } from '@cloud-copilot/iam-policy'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const payload = JSON.parse(Buffer.concat(chunks).toString())

const decisions = payload.trust ? await decideTrust(payload) : await decideIdentity(payload)
process.stdout.write(JSON.stringify(decisions))

async function decideIdentity({ policies, requests, account }) {
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
  return decisions
}

async function decideTrust({ trust, role, requests, account }) {
  const errors = validateTrustPolicy(trust)
  if (errors.length) return requests.map(() => `error: ${JSON.stringify(errors)}`)
  const engine = new URL('../../node_modules/@cloud-copilot/iam-simulate/dist/esm/', import.meta.url)
  const { authorize } = await import(new URL('core_engine/CoreSimulatorEngine.js', engine))
  const { AwsRequestImpl } = await import(new URL('request/request.js', engine))
  const { RequestContextImpl } = await import(new URL('requestContext.js', engine))
  const { DiscoveryContextKeyConstraints } = await import(
    new URL('context_keys/discoveryContextKeyConstraints.js', engine)
  )
  const resourcePolicy = loadPolicy(trust, { name: 'trust' })
  return requests.map((request) => {
    const analysis = authorize({
      request: new AwsRequestImpl(
        request.principal,
        { resource: role, accountId: account },
        request.action,
        new RequestContextImpl(request.context || {}),
      ),
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
      permissionBoundaries: undefined,
      vpcEndpointPolicies: undefined,
      sessionPolicy: undefined,
      simulationParameters: {
        simulationMode: 'Strict',
        discoveryContextKeyConstraints: new DiscoveryContextKeyConstraints([]),
      },
      serviceSettings: { s3: {} },
    })
    return analysis.result
  })
}
