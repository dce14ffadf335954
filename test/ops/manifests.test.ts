import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Service as KnativeService } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { loadConfig, VARIABLE_NAMES } from "../../src/config.js";
import { projectRoot } from "../../src/project-paths.js";

/*
 * The deployment manifests, validated offline against the schemas that ship inside pinned
 * packages (no cluster, no network):
 * - deploy/kubernetes/*.yaml: kubernetes-validate (PyPI, requirements-test.txt) in strict
 *   mode, which also rejects unknown fields (a misspelt `livenesProbe` is otherwise silently
 *   ignored), against Kubernetes 1.30 (the oldest version the manifests claim) and the newest;
 * - deploy/cloudrun/service.yaml: the Knative Service schema of @kubernetes-models/knative
 *   (npm; its revision spec is the Kubernetes PodSpec plus containerConcurrency and
 *   timeoutSeconds), and its revision template, as a Pod, strictly by kubernetes-validate.
 * Then the numbers that must agree with each other and with the server's configuration.
 */

const root = projectRoot();
const VALIDATOR = join(root, ".venv-test", "bin", "kubernetes-validate");
const K8S_DIR = join(root, "deploy", "kubernetes");
const CLOUD_RUN = join(root, "deploy", "cloudrun", "service.yaml");
const OLDEST_KUBERNETES = "1.30";

type Manifest = Record<string, any>;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "manifests-"));
});
afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function kubernetesValidate(files: string[], version?: string): Promise<{ code: number | null; output: string }> {
  const args = ["--strict", ...(version ? ["--kubernetes-version", version] : []), ...files];
  return new Promise((resolve, reject) => {
    const child = spawn(VALIDATOR, args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8" } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

/** Every line says "passed"; a WARN (no schema for the kind) would otherwise exit 0 unvalidated. */
function expectAllPassed(result: { code: number | null; output: string }, resources: number) {
  expect(result.code, result.output).toBe(0);
  const lines = result.output.trim().split("\n");
  expect(lines, result.output).toHaveLength(resources);
  for (const line of lines) expect(line, result.output).toMatch(/^INFO .* passed for resource /);
}

async function kubernetesManifests(): Promise<{ file: string; docs: Manifest[] }[]> {
  const files = (await readdir(K8S_DIR)).filter((name) => name.endsWith(".yaml")).sort();
  return Promise.all(
    files.map(async (name) => {
      const file = join(K8S_DIR, name);
      const docs = parseAllDocuments(await readFile(file, "utf8")).map((doc) => {
        expect(doc.errors, name).toEqual([]);
        return doc.toJS() as Manifest;
      });
      return { file, docs };
    }),
  );
}

const byKind = (all: { docs: Manifest[] }[], kind: string): Manifest => {
  const found = all.flatMap((entry) => entry.docs).filter((doc) => doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

const envOf = (container: Manifest): Record<string, string> =>
  Object.fromEntries((container.env as Manifest[]).map((entry) => [entry.name, entry.value ?? "<from secret>"]));

/** Every variable is one the server reads, and together they make a configuration it accepts. */
function expectServerAccepts(env: Record<string, string>) {
  for (const name of Object.keys(env)) expect(VARIABLE_NAMES, `${name} is not a variable the server reads`).toContain(name);
  const config = loadConfig({ ...env, API_KEYS: "placeholder-key" });
  expect(config.backend).toBe("nsjail");
  return config;
}

/** Every run and every open session at its memory limit, in bytes. */
const sandboxesAtTheirLimit = (config: { maxConcurrency: number; maxSessions: number; memoryLimitMb: number }): number =>
  (config.maxConcurrency + config.maxSessions) * config.memoryLimitMb * 1024 ** 2;

const memoryBytes = (quantity: string): number => {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 ** 3 : 1024 ** 2);
};

describe("the validators themselves", () => {
  test("are installed (scripts/setup-test.sh)", () => {
    expect(existsSync(VALIDATOR), `${VALIDATOR} is missing: run scripts/setup-test.sh`).toBe(true);
  });

  test("kubernetes-validate --strict rejects a misspelt field and a wrong type", async () => {
    const deployment = (await kubernetesManifests()).flatMap((entry) => entry.docs).find((doc) => doc.kind === "Deployment")!;
    const container = deployment.spec.template.spec.containers[0];
    const typo = join(workDir, "typo.yaml");
    await writeFile(
      typo,
      stringify({
        ...deployment,
        spec: {
          ...deployment.spec,
          template: {
            ...deployment.spec.template,
            spec: { ...deployment.spec.template.spec, containers: [{ ...container, livenesProbe: container.livenessProbe }] },
          },
        },
      }),
    );
    const typoResult = await kubernetesValidate([typo]);
    expect(typoResult.code).not.toBe(0);
    expect(typoResult.output).toMatch(/'livenesProbe' was unexpected/);

    const wrongType = join(workDir, "wrong-type.yaml");
    await writeFile(wrongType, stringify({ ...deployment, spec: { ...deployment.spec, replicas: "two" } }));
    expect((await kubernetesValidate([wrongType])).code).not.toBe(0);
  });

  test("the Knative schema rejects a non-integer containerConcurrency and a non-string image", () => {
    const bad = new KnativeService({
      metadata: { name: "x" },
      spec: { template: { spec: { containerConcurrency: "two" as never, containers: [{ name: "c", image: 42 as never }] } } },
    });
    expect(() => bad.validate()).toThrow(/containerConcurrency must be integer/);
  });
});

describe("deploy/kubernetes", () => {
  test.each([[OLDEST_KUBERNETES], ["latest"]])("every manifest validates strictly against Kubernetes %s", async (version) => {
    const manifests = await kubernetesManifests();
    const resources = manifests.reduce((count, entry) => count + entry.docs.length, 0);
    expect(manifests.map((entry) => entry.file.split("/").pop())).toEqual(expect.arrayContaining(["deployment.yaml", "hpa.yaml", "service.yaml"]));
    expectAllPassed(
      await kubernetesValidate(
        manifests.map((entry) => entry.file),
        version === "latest" ? undefined : version,
      ),
      resources,
    );
  });

  test("the Deployment, Service, HPA and NetworkPolicy fit together and with the server's configuration", async () => {
    const all = await kubernetesManifests();
    const deployment = byKind(all, "Deployment");
    const service = byKind(all, "Service");
    const hpa = byKind(all, "HorizontalPodAutoscaler");
    const policy = byKind(all, "NetworkPolicy");
    const pod = deployment.spec.template;
    const container = pod.spec.containers[0];
    const config = expectServerAccepts(envOf(container));

    // labels and names
    expect(deployment.spec.selector.matchLabels).toEqual(pod.metadata.labels);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(policy.spec.podSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(hpa.apiVersion).toBe("autoscaling/v2");
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);

    // ports: the Service and the probes reach the port the server listens on
    const httpPort = container.ports.find((port: Manifest) => port.name === "http");
    expect(httpPort.containerPort).toBe(config.port);
    expect(service.spec.ports[0].targetPort).toBe("http");

    // probes on /health, which needs no key
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      expect(container[probe].httpGet, probe).toEqual({ path: "/health", port: "http" });
    }

    // the API keys come from a Secret, never from the manifest
    expect(container.env.find((entry: Manifest) => entry.name === "API_KEYS").valueFrom.secretKeyRef).toBeDefined();

    // what nsjail needs
    expect(container.securityContext).toMatchObject({ privileged: true, seccompProfile: { type: "Unconfined" }, appArmorProfile: { type: "Unconfined" } });
    expect(pod.spec.automountServiceAccountToken).toBe(false);

    // resources: one sandbox per CPU, and room for every sandbox and session at its memory limit
    expect(container.resources.requests).toEqual(container.resources.limits);
    expect(Number(container.resources.limits.cpu)).toBe(config.maxConcurrency);
    expect(memoryBytes(container.resources.limits.memory)).toBeGreaterThan(sandboxesAtTheirLimit(config));

    // shutdown: the pod is not SIGKILLed before the server has drained its runs
    const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopMs + config.shutdownGraceMs + 3000);
  });
});

describe("deploy/cloudrun/service.yaml", () => {
  const load = async () => parse(await readFile(CLOUD_RUN, "utf8")) as Manifest;

  test("validates against the Knative Service schema", async () => {
    const manifest = await load();
    expect(manifest.apiVersion).toBe("serving.knative.dev/v1");
    expect(manifest.kind).toBe("Service");
    expect(() => new KnativeService(manifest).validate()).not.toThrow();
  });

  test("its revision template validates strictly as a Kubernetes Pod (no unknown or misspelt field)", async () => {
    const { spec } = await load();
    const { containerConcurrency: _concurrency, timeoutSeconds: _timeout, ...podSpec } = spec.template.spec;
    const pod = join(workDir, "cloudrun-pod.yaml");
    await writeFile(pod, stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "cloudrun-revision", ...spec.template.metadata }, spec: podSpec }));
    expectAllPassed(await kubernetesValidate([pod]), 1);
  });

  test("gen2, concurrency = MAX_CONCURRENCY, probes on /health, shutdown within Cloud Run's 10 s, and a configuration the server accepts", async () => {
    const manifest = await load();
    const template = manifest.spec.template;
    const container = template.spec.containers[0];
    expect(template.spec.containers).toHaveLength(1);
    expect(template.metadata.annotations["run.googleapis.com/execution-environment"]).toBe("gen2");

    const env = envOf(container);
    expect(env.PORT, "PORT is reserved on Cloud Run").toBeUndefined();
    const config = expectServerAccepts(env);
    expect(template.spec.containerConcurrency).toBe(config.maxConcurrency);
    expect(container.ports[0].containerPort).toBe(config.port);

    for (const probe of ["startupProbe", "livenessProbe"]) {
      expect(container[probe].httpGet, probe).toEqual({ path: "/health", port: config.port });
    }
    expect(container.env.find((entry: Manifest) => entry.name === "API_KEYS").valueFrom.secretKeyRef).toMatchObject({ key: "latest" });

    // Cloud Run SIGKILLs 10 s after SIGTERM
    expect(config.shutdownGraceMs + 1500).toBeLessThan(10_000);
    // the request deadline covers a run at its limit plus the longest queue wait
    expect(template.spec.timeoutSeconds * 1000).toBeGreaterThan(2 * config.executionTimeoutMs);
    // gen2 needs 512 MiB at least; every sandbox and session needs its own limit's worth
    expect(memoryBytes(container.resources.limits.memory)).toBeGreaterThan(sandboxesAtTheirLimit(config));
    // a session's calls find their instance again
    expect(template.metadata.annotations["run.googleapis.com/sessionAffinity"]).toBe("true");
    expect(Number(container.resources.limits.cpu)).toBe(config.maxConcurrency);
  });
});

describe("the image's command", () => {
  test("runs the server as npm start does, with the same V8 flags", async () => {
    const start = (JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { scripts: { start: string } }).scripts.start;
    const cmd = /^CMD (\[.*\])$/m.exec(await readFile(join(root, "Dockerfile"), "utf8"))?.[1];
    expect(JSON.parse(cmd ?? "null")).toEqual(start.split(" "));
  });
});
