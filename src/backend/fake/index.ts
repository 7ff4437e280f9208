/** The in-memory fake backend: for tests of uvm/, svm/ and driver/ that need many cases and no VM. */
export { FakeBackend, type FakeBackendOptions } from './backend.js';
export { FakeVm, type FakeCall } from './vm.js';
export { FakeDisks, type FakeDisk, type FakeDiskDefinition } from './disks.js';
export { Faults, type FakeOp, type Gate, type ArgsMatcher } from './faults.js';
export { GuestFs, type MountRecord, type TreeLoc } from './guest-fs.js';
export { FsTree, type FakeNode, type FakeFileSpec } from './fs-tree.js';
