export interface TmeOptions {
  /** The project's write key (wk_...). */
  writeKey: string;
  /** Origin of your TME server, e.g. "https://tme.example.com". Events go to `${host}/v1/batch`. */
  host: string;
  /** Send nothing when the browser asks not to be tracked (Do-Not-Track / Global Privacy Control). */
  respectDnt?: boolean;
  /** Automatic page views on load and on single-page-app navigation (default true). */
  autoPage?: boolean;
  /** Milliseconds events wait to be batched (default 1000). */
  flushInterval?: number;
  /** Events per request (default 20). */
  maxBatch?: number;
}

export type Properties = Record<string, unknown>;

export interface Tme {
  readonly version: string;
  page(properties?: Properties): void;
  track(name: string, properties?: Properties): void;
  identify(userId: string | number | null, traits?: Properties): void;
  reset(): void;
  optOut(): void;
  optIn(): void;
  isOptedOut(): boolean;
  flush(): Promise<void>;
  getAnonymousId(): string | null;
  getUserId(): string | null;
  getSessionId(): string | null;
}

export declare const VERSION: string;
export declare function init(options: TmeOptions): Tme;
export declare function createTracker(options: TmeOptions, window: Window): Tme;
export default init;

declare global {
  interface Window {
    tme?: Tme;
  }
}
