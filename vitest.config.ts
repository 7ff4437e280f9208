import { defineConfig } from 'vitest/config';

// Two projects: plain unit tests run in parallel; tests that boot real VMs
// (files named *.vm.test.ts) run one file at a time, since TCG VMs are CPU-bound
// on a 2-core machine. Only the vm project has the global setup (guest image
// built or found in the cache, accelerator decided): vitest runs a project's
// global setup only when that project has a test queued, so a unit-only run
// never builds an image or boots a probe VM.
export default defineConfig({
  test: {
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.vm.test.ts', 'node_modules/**'],
          pool: 'forks',
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'vm',
          include: ['test/**/*.vm.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          pool: 'forks',
          maxWorkers: 1,
          fileParallelism: false,
          testTimeout: 300_000,
        },
      },
    ],
  },
});
