/** The signed-in account, as the Rust server knows it from the session cookie. */
export type Account = { name: string; tenantId: string; projectIds: string[] };

type Me = { user: Account | null; accounts: Account[]; projects: string[] };

class Session {
  me = $state<Me | null>(null);

  /** Loads (or reloads) who is signed in. */
  async load(): Promise<void> {
    const response = await fetch('/auth/me');
    if (response.ok) this.me = (await response.json()) as Me;
  }
}

export const session = new Session();

/** The chat rooms the sidebar links to; any other `/rooms/<name>` works too. */
export const ROOMS = ['general', 'random', 'design'] as const;
