// Finds and loads the package's addon in node-gyp-build's order (a local
// build in build/Release, then a prebuild in prebuilds/<platform>-<arch>),
// with errors that name the file tried and what to do about it.
import os from 'node:os';
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** What to install for a source build (the install script says the same). */
export const BUILD_TOOLS = 'python3, make and a C++17 compiler (g++)';

type LoadError = Error & { code?: string; path?: string };

function loadError(message: string, code: string, file: string, cause: unknown): LoadError {
  const err: LoadError = new Error(message, { cause });
  // Node's own codes for these two failures of require(), so code that
  // already branches on them keeps working.
  err.code = code;
  err.path = file;
  return err;
}

/** The addon of the package at `root`; throws MODULE_NOT_FOUND or ERR_DLOPEN_FAILED naming the file. */
export function loadAddon<T>(root: string): T {
  let file: string;
  try {
    file = nodeGypBuild.path(root);
  } catch (cause) {
    const prebuilds = path.join(root, 'prebuilds', `${process.platform}-${os.arch()}`);
    throw loadError(
      `commitlog: no native addon in ${path.join(root, 'build', 'Release')} nor a prebuild in ${prebuilds} ` +
        `(this package ships prebuilds for linux-x64 and linux-arm64 with glibc). ` +
        `Install ${BUILD_TOOLS}, then run \`npm rebuild commitlog\` to build it from source.`,
      'MODULE_NOT_FOUND',
      prebuilds,
      cause,
    );
  }
  try {
    return require(file) as T;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw loadError(
      `commitlog: cannot load the native addon ${file}: ${why}. ` +
        `If the system is older than the prebuild's floor (README, Install), install ${BUILD_TOOLS} ` +
        `and run \`npm rebuild commitlog --build-from-source\`.`,
      'ERR_DLOPEN_FAILED',
      file,
      cause,
    );
  }
}
