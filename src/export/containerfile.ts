/**
 * The container build: a Containerfile whose entrypoint is the harness's HTTP serve mode, and its
 * .dockerignore. Requirements are installed at build time, so a cold start never installs.
 */
import { APP_DIR, CONTAINER_PORT, CONTAINER_UID, type ExportPlan, HARNESS_DIR } from './mapping';

/** Where the build context keeps each part (folders of the export directory). */
export const CONTEXT = { app: 'app', harness: 'kiln', requirements: 'requirements.txt', manifests: 'manifests' } as const;

export function containerfile(plan: ExportPlan): string {
  const lines = [
    `# ${plan.className} (${plan.machineType.name}) served by Kiln's HTTP serve mode.`,
    `# Build: docker build -f Containerfile -t ${plan.image} .`,
    `FROM ${plan.baseImage}`,
    '',
    'ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1',
  ];
  if (plan.installPython) {
    lines.push(
      '# CUDA\'s runtime image has no Python.',
      'RUN apt-get update \\',
      ' && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-pip \\',
      ' && rm -rf /var/lib/apt/lists/*',
    );
  }
  if (plan.requirements.length) {
    lines.push(
      '',
      '# Installed once, here: the image starts with everything the app imports.',
      `COPY ${CONTEXT.requirements} /tmp/requirements.txt`,
      'RUN python3 -m pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt',
    );
  }
  lines.push(
    '',
    `RUN useradd --create-home --uid ${CONTAINER_UID} --shell /usr/sbin/nologin kiln`,
    `COPY ${CONTEXT.harness}/ ${HARNESS_DIR}/`,
    `COPY ${CONTEXT.app}/ ${APP_DIR}/`,
    `WORKDIR ${APP_DIR}`,
    '',
    `ENV PYTHONPATH=${HARNESS_DIR} \\`,
    `    KILN_APP_FILE=${APP_DIR}/${plan.entry} \\`,
    `    KILN_APP_CLASS=${plan.className} \\`,
    ...(plan.healthEndpoint ? [`    KILN_HEALTH_ENDPOINT=${plan.healthEndpoint} \\`] : []),
    `    KILN_MAX_MULTIPLEXING=${plan.maxMultiplexing} \\`,
    '    KILN_FILES_DIR=/tmp/kiln-files',
    `USER ${CONTAINER_UID}`,
    `EXPOSE ${CONTAINER_PORT}`,
    // Exec form: the server is PID 1 and gets SIGTERM itself, so it drains and runs teardown().
    'ENTRYPOINT ["python3", "-m", "kiln_harness.serve"]',
    '',
  );
  return lines.join('\n');
}

export const DOCKERIGNORE = [
  '# Only the app, the harness and the requirements go into the image.',
  `${CONTEXT.manifests}/`,
  'README.md',
  '**/__pycache__/',
  '**/*.pyc',
  '',
].join('\n');
