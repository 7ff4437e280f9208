/**
 * Kernel-module selection: which .ko files (the requested ones and what they
 * depend on, from modules.dep) go into the initrd.
 */

export interface ModuleIndex {
  /** normalised module name → path relative to lib/modules/<release>/ */
  path: Map<string, string>;
  /** relative path → relative paths it depends on (direct) */
  deps: Map<string, string[]>;
}

/** "kernel/drivers/scsi/sd_mod.ko" → "sd_mod" (dashes and underscores are one to modprobe). */
export function moduleName(relPath: string): string {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export function parseModulesDep(text: string): ModuleIndex {
  const path = new Map<string, string>();
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const mod = line.slice(0, colon).trim();
    const rest = line.slice(colon + 1).trim();
    path.set(moduleName(mod), mod);
    deps.set(mod, rest ? rest.split(/\s+/) : []);
  }
  return { path, deps };
}

/**
 * The requested modules plus their dependency closure, as relative paths.
 * Names found in `builtin` are skipped; anything else unknown is reported.
 */
export function moduleClosure(index: ModuleIndex, wanted: readonly string[], builtin: ReadonlySet<string>): { files: string[]; missing: string[] } {
  const files = new Set<string>();
  const missing: string[] = [];
  const visit = (rel: string): void => {
    if (files.has(rel)) return;
    files.add(rel);
    for (const d of index.deps.get(rel) ?? []) visit(d);
  };
  for (const name of wanted) {
    const n = name.replace(/-/g, '_');
    const rel = index.path.get(n);
    if (rel) visit(rel);
    else if (!builtin.has(n)) missing.push(name);
  }
  return { files: [...files].sort(), missing };
}

/** modules.builtin lists "kernel/fs/ext4/ext4.ko" lines. */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .map(moduleName),
  );
}
