/** The chat rooms the sidebar links to; any other `/rooms/<name>` works too. */
export const ROOMS = ['general', 'random', 'design'] as const;
