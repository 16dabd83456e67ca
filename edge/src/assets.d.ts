// wrangler.toml `rules` bundle .txt files as Text modules: the import is the file's contents.
declare module "*.txt" {
  const text: string;
  export default text;
}

// The dashboard, built into one HTML file by edge/scripts/build-dashboard.ts ([build] in wrangler.toml).
declare module "*.html" {
  const html: string;
  export default html;
}

// workerd's built-in module, typed for the part the edge uses (the root tsconfig does not load
// @cloudflare/workers-types globally: its globals clash with Node's).
declare module "cloudflare:workers" {
  export interface DurableObjectStorage {
    get<T>(key: string): Promise<T | undefined>;
    put<T>(key: string, value: T): Promise<void>;
    delete(key: string): Promise<boolean>;
    getAlarm(): Promise<number | null>;
    setAlarm(scheduledTime: number | Date): Promise<void>;
  }
  export interface DurableObjectState {
    storage: DurableObjectStorage;
    blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
  }
  export abstract class DurableObject<Env = unknown> {
    protected ctx: DurableObjectState;
    protected env: Env;
    constructor(ctx: DurableObjectState, env: Env);
    alarm?(): Promise<void>;
  }
}
