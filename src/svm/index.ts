/** Service VMs: the ref-counted map and the global / safe modes on top of it. */
export { OnceSignal } from './signal.js';
export { RefCountedResources } from './ref-counted.js';
export { ServiceVmEntry } from './entry.js';
export { ServiceVmMap, type AddResult } from './map.js';
export { ServiceVms, GLOBAL_SVM_ID, type ServiceVmMode, type ServiceVmLifecycle, type ServiceVmLease, type ServiceVmsOptions } from './service-vms.js';
