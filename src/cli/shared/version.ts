/** The installed package's version, for `rds-iam-pool --version`. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'rds-iam-pool';

/**
 * Read from our package.json at run time, found by walking up from this module: that is `dist/`
 * (or a chunk in it) in an install, `src/cli/shared/` under tsx. The CLI may run from a bundle
 * chunk whose depth differs from the source file's, so no fixed relative path.
 */
export function packageVersion(): string {
  const file = thisFile();
  if (file === '') return 'unknown';
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as {
          name?: unknown;
          version?: unknown;
        };
        if (name === PACKAGE_NAME && typeof version === 'string') return version;
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/**
 * The file this code was loaded from. CommonJS has `__filename`. The ESM build cannot say
 * `import.meta.url` (the same source is also built as CommonJS, where it is a syntax error), so it
 * asks V8 for the current call site's file (the stack trace API Node documents), a `file:` URL.
 */
function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  const original = Error.prepareStackTrace;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    const callSites = new Error().stack as unknown as NodeJS.CallSite[];
    const file = callSites[0]?.getFileName() ?? '';
    return file.startsWith('file:') ? fileURLToPath(file) : file;
  } finally {
    Error.prepareStackTrace = original;
  }
}
