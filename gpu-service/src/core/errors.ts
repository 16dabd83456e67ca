/** Why the batcher refused or failed a request; the router maps each to its HTTP status. */

/** The queue holds too many rows: 503 + Retry-After, at once. */
export class QueueFullError extends Error {
  constructor(
    readonly queuedRows: number,
    readonly maxQueueRows: number,
  ) {
    super(`queue full: ${queuedRows} rows queued, limit ${maxQueueRows}`);
    this.name = "QueueFullError";
  }
}

/** A request that can never be served as sent: 400. */
export class RequestTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestTooLargeError";
  }
}

/** The request's deadline passed before its rows ran: 504. */
export class DeadlineError extends Error {
  constructor() {
    super("request deadline passed before its rows were run");
    this.name = "DeadlineError";
  }
}

/** The caller went away: its queued rows never run. */
export class AbortedError extends Error {
  constructor() {
    super("request aborted by its caller");
    this.name = "AbortedError";
  }
}

/** The batcher is closed (shutting down): 503. */
export class DrainingError extends Error {
  constructor() {
    super("the batcher is closed (shutting down)");
    this.name = "DrainingError";
  }
}

/** The model's backend lost the run (a session thread crashed or none is up): 503 + Retry-After. */
export class BackendUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackendUnavailableError";
  }
}
