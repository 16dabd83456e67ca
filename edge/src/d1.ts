/**
 * The slice of Cloudflare's D1 API the edge uses. Declared here rather than pulling
 * @cloudflare/workers-types into the root tsconfig, whose globals clash with Node's and the DOM's;
 * workerd's and Miniflare's D1Database both satisfy it.
 */
export interface D1Result<T> {
  results: T[];
  success: boolean;
}

export interface D1PreparedStatement {
  bind(...values: unknown[]): D1PreparedStatement;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  all<T = Record<string, unknown>>(): Promise<D1Result<T>>;
  run(): Promise<unknown>;
}

export interface D1Database {
  prepare(sql: string): D1PreparedStatement;
  exec(sql: string): Promise<unknown>;
  batch(statements: D1PreparedStatement[]): Promise<unknown[]>;
}
