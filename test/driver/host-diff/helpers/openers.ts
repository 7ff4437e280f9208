/**
 * The two ways tests open an image: the project's ext4 reader (what the
 * driver uses) and the kernel through a loop mount (the oracle). Every
 * host-diff test runs against both, so a reader bug and a diff bug cannot
 * hide each other.
 */
import { openExt4LayerFs } from '../../../../src/driver/host-diff/ext4-layer-fs.js';
import type { LayerFsOpener } from '../../../../src/driver/host-diff/source.js';
import { openViaMount } from './mounted-fs.js';

export const OPENERS: Array<[string, LayerFsOpener]> = [
  ['the ext4 reader', openExt4LayerFs],
  ['a kernel loop mount', openViaMount],
];
