/**
 * Workspaces the bot is installed in: team id -> bot token (and the bot's ids, from auth.test). Bolt's
 * `authorize` reads it for every request, so one process serves several workspaces; `tokens_revoked`
 * and `app_uninstalled` remove a workspace at once.
 */
import { SwitchboardError, type Logger } from '../../index.js';

export interface Installation {
  teamId: string;
  botToken: string;
  botId?: string;
  botUserId?: string;
}

export class NotInstalledError extends SwitchboardError {
  constructor(readonly teamId: string) {
    super('slack_not_installed', `The Slack app is not installed in workspace ${teamId} (or its token was revoked): add its bot token to slack.workspaces, or reinstall the app there.`);
  }
}

export class Installations {
  readonly #byTeam = new Map<string, Installation>();
  /** Tokens not yet tied to a team: auth.test names it on first use. */
  #unbound: string[] = [];

  constructor(
    tokens: { botToken?: string; workspaces: Record<string, { botToken: string }> },
    private readonly authTest: (token: string) => Promise<{ team_id?: string; user_id?: string; bot_id?: string }>,
    private readonly logger: Logger,
  ) {
    for (const [teamId, w] of Object.entries(tokens.workspaces)) this.#byTeam.set(teamId, { teamId, botToken: w.botToken });
    if (tokens.botToken) this.#unbound.push(tokens.botToken);
  }

  /**
   * Resolves tokens to teams and bot ids (auth.test once per token). A token Slack refuses (revoked,
   * uninstalled) drops its workspace with a warning; the others go on. None left is an error.
   */
  async init(): Promise<void> {
    const unbound = this.#unbound;
    this.#unbound = [];
    for (const token of unbound) {
      const r = await this.#test(token, 'SLACK_BOT_TOKEN');
      if (r?.team_id) this.#byTeam.set(r.team_id, { teamId: r.team_id, botToken: token, botId: r.bot_id, botUserId: r.user_id });
    }
    for (const inst of [...this.#byTeam.values()]) {
      if (inst.botId) continue;
      const r = await this.#test(inst.botToken, `slack.workspaces.${inst.teamId}`);
      if (!r) this.#byTeam.delete(inst.teamId);
      else Object.assign(inst, { botId: r.bot_id, botUserId: r.user_id });
    }
    if (this.#byTeam.size === 0) throw new SwitchboardError('slack_no_workspace', 'No Slack workspace accepted its bot token (auth.test failed for each): check SLACK_BOT_TOKEN / slack.workspaces.');
  }

  async #test(token: string, where: string): Promise<{ team_id?: string; user_id?: string; bot_id?: string } | null> {
    try {
      return await this.authTest(token);
    } catch (err) {
      this.logger.warn(`Slack refused the bot token of ${where}; that workspace is skipped`, { error: err });
      return null;
    }
  }

  get(teamId: string): Installation {
    const inst = this.#byTeam.get(teamId);
    if (!inst) throw new NotInstalledError(teamId);
    return inst;
  }

  has(teamId: string): boolean {
    return this.#byTeam.has(teamId);
  }

  teams(): string[] {
    return [...this.#byTeam.keys()];
  }

  /** `tokens_revoked` / `app_uninstalled`: the workspace's token no longer works. */
  remove(teamId: string, why: string): void {
    if (this.#byTeam.delete(teamId)) this.logger.warn(`Slack workspace ${teamId} removed: ${why}`);
  }
}
