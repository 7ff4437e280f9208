// The built package's `lcow image build` finds the guest image the sources
// build (made by the vm project's global setup): the image inputs it hashes,
// the init script among them, reached dist/ unchanged. Kept out of
// package.test.ts so that a unit-only run never builds a guest image.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage } from '../src/backend/qemu/index.js';
import { buildPackage, type BuiltPackage } from './helpers/built-package.js';

let built: BuiltPackage;
beforeAll(() => {
  built = buildPackage();
});
afterAll(() => built?.remove());

describe('the built package and the guest image', () => {
  it('lcow image build from the build names the image the sources build', async () => {
    const fromBuild = JSON.parse(built.runBin('lcow', ['image', 'build', '--json'])) as { dir: string; kernel: string; built: boolean };
    expect(fromBuild).toMatchObject({ dir: (await ensureGuestImage()).dir, built: false });
  });
});
