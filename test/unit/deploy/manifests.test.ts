import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { parseAllDocuments } from 'yaml';
import { loadRunPlan } from '../../../src/profile/load.ts';
import { ROOT } from '../../helpers/cli.ts';
import { TempDir } from '../../helpers/temp-files.ts';

type Manifest = Record<string, unknown> & { kind: string; metadata: { name: string } };

/** Every document of every manifest, checked against the Kubernetes schemas (offline, kubernetes-models). */
async function manifests(): Promise<Manifest[]> {
  const all: Manifest[] = [];
  for (const file of ['profile-configmap.yaml', 'results-pvc.yaml', 'job.yaml', 'merge-job.yaml']) {
    for (const doc of parseAllDocuments(await readFile(path.join(ROOT, 'deploy/k8s', file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], file);
      all.push(doc.toJS() as Manifest);
    }
  }
  return all;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = { ConfigMap, PersistentVolumeClaim, Job };

test('the manifests validate against the Kubernetes schemas', async () => {
  const docs = await manifests();
  assert.deepEqual(docs.map((doc) => doc.kind).sort(), ['ConfigMap', 'Job', 'Job', 'PersistentVolumeClaim']);
  for (const doc of docs) {
    const Model = MODELS[doc.kind];
    assert.ok(Model, doc.kind);
    assert.doesNotThrow(() => new Model(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`);
  }
  // The check can fail: a wrong type is refused.
  const job = docs.find((doc) => doc.metadata.name === 'fleetsim') as Manifest & { spec: Record<string, unknown> };
  assert.throws(() => new Job({ ...job, spec: { ...job.spec, completions: 'fifty' } } as never).validate(), /completions must be integer/);
});

test('the Indexed Job runs shard JOB_COMPLETION_INDEX of N, from START_AT, results per pod, scraped', async () => {
  const job = (await manifests()).find((doc) => doc.metadata.name === 'fleetsim') as unknown as {
    spec: { completionMode: string; completions: number; parallelism: number; template: { metadata: { annotations: Record<string, string> }; spec: { containers: { env: { name: string; value: string }[]; args: string[]; ports: { containerPort: number }[] }[] } } };
  };
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.completions, job.spec.parallelism);
  const container = job.spec.template.spec.containers[0];
  assert.ok(container);
  assert.equal(container.env.find((env) => env.name === 'SHARDS')?.value, String(job.spec.completions));
  const command = container.args.join(' ');
  assert.match(command, /--shard "\$JOB_COMPLETION_INDEX\/\$SHARDS"/);
  assert.match(command, /--start-at "\$START_AT"/);
  assert.match(command, /--json "\/results\/shard-\$JOB_COMPLETION_INDEX\.json"/);
  const port = /--metrics-port (\d+)/.exec(command)?.[1];
  assert.equal(job.spec.template.metadata.annotations['prometheus.io/port'], port);
  assert.equal(container.ports[0]?.containerPort, Number(port));
});

test("the ConfigMap's profile loads, with the image's device models", async () => {
  const map = (await manifests()).find((doc) => doc.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
  const temp = await TempDir.create();
  try {
    // The image holds the repository's devices/ at /app/devices.
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
  // The build stage's steps are what scripts/check-package.sh runs in a fresh clone (npm ci, build, prune).
  assert.ok(lines.some((line) => /^RUN npm ci .*&& npm prune --omit=dev/.test(line)));
});
