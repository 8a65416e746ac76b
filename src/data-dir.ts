import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** Environment variable naming the data directory. */
export const DATA_DIR_ENV = "TESSERA_DATA_DIR";
export const DEFAULT_DATA_DIR = "tessera-data";

export function resolveDataDir(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(flag ?? env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR);
}

export const dataFiles = (dir: string) => ({
  database: join(dir, "tessera.db"),
  bundle: join(dir, "bundle.pem"),
  config: join(dir, "config.json"),
});

export function isInitialized(dir: string): boolean {
  return existsSync(dataFiles(dir).database);
}
