/**
 * Fixed values of the LCOW schema-v2 documents, as hcsshim emits them.
 */
import { LCOW_LIMITS, type BackendLimits } from '../../contract.js';

/** Schema 2.1: what hcsshim's MakeLCOWDoc sends for a non-confidential LCOW UVM. */
export const SCHEMA_VERSION = { Major: 2, Minor: 1 } as const;

/** SCSI controller keys, by controller index: hcsshim's GUIDs, which its GCS maps back to SCSI hosts. */
export { SCSI_CONTROLLER_GUIDS } from '../../gcs/index.js';

/** HCS gives an LCOW VM hcsshim's hardware; SCSI_CONTROLLER_GUIDS names each of its controllers. */
export const HCS_LIMITS: BackendLimits = LCOW_LIMITS;

/** hvsock binds allowed for SYSTEM and Administrators only (hcsshim's default). */
export const HVSOCKET_DEFAULT_BIND_SD = 'D:P(A;;FA;;;SY)(A;;FA;;;BA)';

/** Guest command after `--` on the kernel command line: vsockexec forwards entropy (port 1) and GCS logs (port 109). */
export const DEFAULT_GCS_COMMAND = '/bin/vsockexec -e 109 /bin/gcs -v4 -log-format json';
