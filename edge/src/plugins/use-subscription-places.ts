/**
 * Gives a request's subscription places back when its answer is not an event stream. The subscribe
 * resolver takes a place (limits/subscription-gate.ts) before yoga picks how to answer, and yoga
 * answers a subscription only as a stream: a request that accepts JSON alone gets 406 after its
 * place was taken, and no stream is ever read to its end, which is what gives a place back.
 * Session 14's attack pass: three such requests filled an isolate's places for good, and one key
 * could take all 256 in about two minutes. So places are tracked per request, and a response that
 * is not `text/event-stream` releases every place its request took (a release is idempotent).
 */
import type { Plugin } from "graphql-yoga";

interface Place {
  release(): Promise<void>;
}

/** The places each request took, until its response shows whether a stream will hold them. */
export class RequestPlaces {
  readonly #byRequest = new WeakMap<Request, Place[]>();

  track(request: Request, place: Place): void {
    const places = this.#byRequest.get(request);
    if (places) places.push(place);
    else this.#byRequest.set(request, [place]);
  }

  /** Releases and forgets `request`'s places; settles when their lease stores have them back. */
  async releaseAll(request: Request): Promise<void> {
    const places = this.#byRequest.get(request) ?? [];
    this.#byRequest.delete(request);
    await Promise.all(places.map((place) => place.release()));
  }

  /** Forgets `request`'s places: its stream holds them now, and gives them back when it ends. */
  handOver(request: Request): void {
    this.#byRequest.delete(request);
  }
}

export function useSubscriptionPlaces(places: RequestPlaces): Plugin {
  return {
    // Awaited before the answer goes out, so that a client that retries at once finds its place free.
    async onResponse({ request, response }) {
      if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream"))
        places.handOver(request);
      else await places.releaseAll(request);
    },
  };
}
