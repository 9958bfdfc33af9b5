import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { createRequire } from 'node:module';
import { parse, parseAllDocuments } from 'yaml';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { ROOT } from '../../helpers/cli.ts';
import { TempDir } from '../../helpers/temp-files.ts';

type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string; labels?: Record<string, string> } };
const K8S = path.join(ROOT, 'deploy/k8s');

interface Kustomization {
  resources: string[];
  labels: { pairs: Record<string, string> }[];
  configMapGenerator: { name: string; files: string[] }[];
  secretGenerator: { name: string; files: string[] }[];
  generatorOptions: { disableNameSuffixHash: boolean };
}

/**
 * `kubectl kustomize deploy/k8s` for the features the kustomization uses: its resources, a
 * ConfigMap and a Secret generated from files (stable names), and labels added to every object.
 */
async function render(): Promise<Manifest[]> {
  const kustomization = parse(await readFile(path.join(K8S, 'kustomization.yaml'), 'utf8')) as Kustomization;
  assert.equal(kustomization.generatorOptions.disableNameSuffixHash, true, 'the Jobs name the generated objects as they are');
  const all: Manifest[] = [];
  for (const file of kustomization.resources) {
    for (const doc of parseAllDocuments(await readFile(path.join(K8S, file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], file);
      all.push(doc.toJS() as Manifest);
    }
  }
  const fromFiles = async (files: string[]): Promise<Record<string, string>> =>
    Object.fromEntries(await Promise.all(files.map(async (file) => [file, await readFile(path.join(K8S, file), 'utf8')] as const)));
  for (const { name, files } of kustomization.configMapGenerator) all.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: await fromFiles(files) });
  for (const { name, files } of kustomization.secretGenerator) {
    const data = Object.fromEntries(Object.entries(await fromFiles(files)).map(([key, text]) => [key, Buffer.from(text).toString('base64')]));
    all.push({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name }, data });
  }
  const labels = Object.assign({}, ...kustomization.labels.map((label) => label.pairs)) as Record<string, string>;
  for (const doc of all) doc.metadata.labels = { ...labels, ...doc.metadata.labels };
  return all;
}

/**
 * The schema check the API server makes, strictly: the model's validator must pass, and every field
 * must be one the validator looked at (kubectl's strict field validation refuses unknown fields;
 * kubernetes-models' own validate lets them through). Read by watching the validator's reads.
 */
function unknownFields(Model: new (data: never) => { validate(): void }, doc: unknown): string[] {
  // The model's own check first (types, required fields), on the plain object.
  new Model(doc as never).validate();
  const check = SCHEMAS.get(Model);
  assert.ok(check);
  const seen = new Map<object, Set<string | symbol>>();
  const listedAll = new Set<object>();
  const wrap = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const target = value;
    seen.set(target, new Set());
    return new Proxy(target, {
      get(object, key, receiver) {
        seen.get(object)?.add(key);
        return wrap(Reflect.get(object, key, receiver));
      },
      ownKeys(object) {
        listedAll.add(object);
        return Reflect.ownKeys(object);
      },
    });
  };
  // Then the schema's validator on a watched copy: every field it never reads is unknown to it.
  check(wrap(doc));
  const unknown: string[] = [];
  const walk = (value: unknown, where: string): void => {
    if (typeof value !== 'object' || value === null) return;
    for (const key of Object.keys(value)) {
      const read = seen.get(value);
      if (!Array.isArray(value) && !listedAll.has(value) && !read?.has(key)) unknown.push(`${where}.${key}`);
      walk((value as Record<string, unknown>)[key], `${where}.${key}`);
    }
  };
  walk(doc, (doc as Manifest).kind);
  return unknown;
}

// The schemas' compiled validators, which the package does not export: loaded by their files.
const schema = (name: string): ((data: unknown) => boolean) =>
  (createRequire(import.meta.url)(path.join(ROOT, 'node_modules/kubernetes-models/_schemas', `${name}.js`)) as { validate: (data: unknown) => boolean }).validate;
const validateJob = schema('IoK8sApiBatchV1Job');
const validateService = schema('IoK8sApiCoreV1Service');
const validateConfigMap = schema('IoK8sApiCoreV1ConfigMap');
const validateSecret = schema('IoK8sApiCoreV1Secret');
const validateNetworkPolicy = schema('IoK8sApiNetworkingV1NetworkPolicy');

const SCHEMAS = new Map<unknown, (data: unknown) => boolean>([
  [Job, validateJob],
  [Service, validateService],
  [ConfigMap, validateConfigMap],
  [Secret, validateSecret],
  [NetworkPolicy, validateNetworkPolicy],
] as [unknown, (data: unknown) => boolean][]);

const MODELS: Record<string, new (data: never) => { validate(): void }> = { ConfigMap, Secret, Service, Job, NetworkPolicy };

test('the kustomization renders: two Jobs, a Service, a generated ConfigMap and Secret; no volume claim', async () => {
  const docs = await render();
  assert.deepEqual(docs.map((doc) => `${doc.kind}/${doc.metadata.name}`).sort(), [
    'ConfigMap/fleetsim-profile',
    'Job/fleetsim-coordinator',
    'Job/fleetsim-workers',
    'NetworkPolicy/fleetsim-coordinator',
    'Secret/fleetsim-token',
    'Service/fleetsim-coordinator',
  ]);
  for (const doc of docs) assert.equal(doc.metadata.labels?.['app.kubernetes.io/name'], 'fleetsim');
  const text = JSON.stringify(docs);
  assert.doesNotMatch(text, /persistentVolumeClaim|ReadWriteMany|_VALUE|START_AT/);
});

test('every rendered object passes the strict schema check; a misspelt field fails it', async () => {
  const docs = await render();
  for (const doc of docs) {
    const Model = MODELS[doc.kind];
    assert.ok(Model, doc.kind);
    assert.deepEqual(unknownFields(Model, doc), [], `${doc.kind} ${doc.metadata.name}`);
  }
  const workers = docs.find((doc) => doc.metadata.name === 'fleetsim-workers') as Manifest & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
  const { completions, ...spec } = workers.spec as unknown as Record<string, unknown>;
  assert.deepEqual(unknownFields(Job, { ...workers, spec: { ...spec, completionz: completions } }), ['Job.spec.completionz']);
  const container = workers.spec.template.spec.containers[0] as Record<string, unknown>;
  const { image, ...rest } = container;
  const misspelt = { ...workers, spec: { ...workers.spec, template: { ...workers.spec.template, spec: { ...workers.spec.template.spec, containers: [{ ...rest, imagee: image }] } } } };
  assert.deepEqual(unknownFields(Job, misspelt), ['Job.spec.template.spec.containers.0.imagee']);
  // A wrong type still fails the model's own check.
  assert.throws(() => new Job({ ...workers, spec: { ...workers.spec, completions: 'fifty' } } as never).validate(), /completions must be integer/);
});

test('the workers join the coordinator through its Service, as many as it waits for; restricted Pod Security; cleaned up', async () => {
  const docs = await render();
  type PodJob = {
    spec: {
      completionMode?: string;
      completions?: number;
      parallelism?: number;
      ttlSecondsAfterFinished?: number;
      template: {
        metadata: { labels: Record<string, string> };
        spec: { securityContext: Record<string, unknown>; containers: { args: string[]; securityContext: Record<string, unknown>; ports?: { containerPort: number }[] }[] };
      };
    };
  };
  const coordinator = docs.find((doc) => doc.metadata.name === 'fleetsim-coordinator' && doc.kind === 'Job') as unknown as PodJob;
  const workers = docs.find((doc) => doc.metadata.name === 'fleetsim-workers') as unknown as PodJob;
  const service = docs.find((doc) => doc.kind === 'Service') as unknown as { metadata: { name: string }; spec: { selector: Record<string, string>; ports: { port: number }[] } };
  const args = coordinator.spec.template.spec.containers[0]?.args ?? [];
  assert.equal(args[0], 'coordinate');
  const count = Number(args[args.indexOf('--workers') + 1]);
  assert.equal(workers.spec.completionMode, 'Indexed');
  assert.equal(workers.spec.completions, count);
  assert.equal(workers.spec.parallelism, count);
  const listen = args[args.indexOf('--listen') + 1] ?? '';
  const port = Number(listen.split(':')[1]);
  assert.equal(service.spec.ports[0]?.port, port);
  for (const [key, value] of Object.entries(service.spec.selector)) assert.equal(coordinator.spec.template.metadata.labels[key] ?? 'fleetsim', value);
  const workerArgs = workers.spec.template.spec.containers[0]?.args ?? [];
  assert.equal(workerArgs[workerArgs.indexOf('--join') + 1], `http://${service.metadata.name}:${port}`);
  for (const job of [coordinator, workers]) {
    assert.ok((job.spec.ttlSecondsAfterFinished ?? 0) > 0);
    const pod = job.spec.template.spec.securityContext;
    assert.equal(pod.runAsNonRoot, true);
    assert.deepEqual(pod.seccompProfile, { type: 'RuntimeDefault' });
    const container = job.spec.template.spec.containers[0]?.securityContext ?? {};
    assert.equal(container.allowPrivilegeEscalation, false);
    assert.deepEqual(container.capabilities, { drop: ['ALL'] });
  }
});

test('only the workers reach the coordinator port; its metrics port is the one the PodMonitor and annotations name', async () => {
  const docs = await render();
  type Selector = { matchLabels: Record<string, string> };
  const policy = docs.find((doc) => doc.kind === 'NetworkPolicy') as unknown as {
    spec: { podSelector: Selector; policyTypes: string[]; ingress: { from?: { podSelector: Selector }[]; ports: { port: number }[] }[] };
  };
  const pods = (
    name: string,
  ): { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: { args: string[]; ports?: { name: string; containerPort: number }[] }[] } } =>
    (docs.find((doc) => doc.metadata.name === name && doc.kind === 'Job') as unknown as { spec: { template: ReturnType<typeof pods> } }).spec.template;
  const coordinator = pods('fleetsim-coordinator');
  const workers = pods('fleetsim-workers');
  const matches = (selector: Selector, labels: Record<string, string>): boolean =>
    Object.entries(selector.matchLabels).every(([key, value]) => ({ 'app.kubernetes.io/name': 'fleetsim', ...labels })[key] === value);
  assert.ok(matches(policy.spec.podSelector, coordinator.metadata.labels), 'the policy selects the coordinator');
  assert.ok(!matches(policy.spec.podSelector, workers.metadata.labels), 'and not the workers');
  assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
  const joinRule = policy.spec.ingress.find((rule) => rule.ports.some((port) => port.port === 7070));
  assert.ok(joinRule?.from?.length === 1 && matches(joinRule.from[0]?.podSelector as Selector, workers.metadata.labels), 'port 7070: from the workers only');
  assert.ok(!matches(joinRule.from[0]?.podSelector as Selector, coordinator.metadata.labels));
  const container = coordinator.spec.containers[0];
  const metricsPort = Number(container?.args[(container.args.indexOf('--metrics-port') ?? -2) + 1]);
  assert.equal(container?.ports?.find((port) => port.name === 'metrics')?.containerPort, metricsPort);
  assert.equal(coordinator.metadata.annotations?.['prometheus.io/port'], String(metricsPort));
  assert.ok(
    policy.spec.ingress.some((rule) => rule.from === undefined && rule.ports.some((port) => port.port === metricsPort)),
    'the metrics port is open to Prometheus',
  );
  const monitor = parse(await readFile(path.join(ROOT, 'deploy/monitoring/podmonitor.yaml'), 'utf8')) as { spec: { podMetricsEndpoints: { port: string }[] } };
  assert.equal(monitor.spec.podMetricsEndpoints[0]?.port, 'metrics');
});

test("the generated ConfigMap's profile loads, with the image's device models", async () => {
  const map = (await render()).find((doc) => doc.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  const temp = await TempDir.create();
  try {
    const profile = await temp.write('profile.yaml', (map.data['profile.yaml'] ?? '').replaceAll('/app/devices/', `${path.join(ROOT, 'devices')}/`));
    const plan = await loadRunPlan(profile);
    assert.equal(plan.devices, 1_000_000);
  } finally {
    await temp.remove();
  }
});

test('the Dockerfile: two node:20-slim stages, non-root, fleetsim as entrypoint, sources that exist', async () => {
  const lines = (await readFile(path.join(ROOT, 'deploy/Dockerfile'), 'utf8')).split('\n').filter((line) => line.trim() && !line.startsWith('#'));
  const from = lines.filter((line) => line.startsWith('FROM '));
  assert.equal(from.length, 2);
  for (const line of from) assert.match(line, /^FROM node:20-slim\b/);
  assert.ok(lines.includes('USER node'));
  assert.match(lines.find((line) => line.startsWith('ENTRYPOINT ')) ?? '', /"\/app\/bin\/fleetsim\.js"/);
  for (const line of lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from'))) {
    const sources = line.split(/\s+/).slice(1, -1);
    for (const source of sources) assert.ok(existsSync(path.join(ROOT, source)), `${line}: ${source} is not in the repository`);
  }
  assert.ok(lines.some((line) => /^RUN npm ci .*&& npm prune --omit=dev/.test(line)));
});
