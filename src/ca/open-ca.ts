import type { Clock } from "../clock.js";
import { dataFiles } from "../data-dir.js";
import { SqliteStore } from "../store/sqlite/sqlite-store.js";
import { openKeyStore } from "./key-store.js";
import { KeyLifecycle, lifecycleSettings } from "./lifecycle.js";
import { CaManager } from "./manager.js";

/** Opens the data directory: store, key protection, CA keys. The server and the CLI share this wiring. */
export async function openCa(dataDir: string, env: NodeJS.ProcessEnv, clock: Clock) {
  const store = new SqliteStore(dataFiles(dataDir).database, { now: () => clock.now().getTime() });
  try {
    const keyStore = openKeyStore(dataDir, await store.getSettings(), env);
    const ca = await CaManager.open(store, keyStore, clock);
    const lifecycle = new KeyLifecycle(store, keyStore, ca, clock, await lifecycleSettings(store));
    return { store, keyStore, ca, lifecycle };
  } catch (e) {
    store.close();
    throw e;
  }
}
