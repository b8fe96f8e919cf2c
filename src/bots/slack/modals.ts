/**
 * Modals for a decision that needs words: Reject (feedback for the planner) and Edit (the step's action,
 * prefilled). The approval id rides in `private_metadata`, so the submission is checked against the
 * policy and the approval's state again when it arrives, on whichever replica it reaches.
 */
import type { View } from '@slack/types';
import { z } from 'zod';
import { LIMITS } from './blocks.js';
import { shorten, splitText } from '../shared/split-text.js';

export const MODALS = { reject: 'sb_reject_modal', edit: 'sb_edit_modal' } as const;
export const INPUT = { block: 'decision', action: 'value' } as const;

const Meta = z.object({ approvalId: z.string().min(1), channel: z.string().optional(), team: z.string().optional(), threadTs: z.string().optional() });
export type ModalMeta = z.infer<typeof Meta>;

export function parseMeta(raw: string): ModalMeta | null {
  try {
    const parsed = Meta.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

const title = (t: string) => ({ type: 'plain_text' as const, text: shorten(t, 24).text });

export function rejectModal(meta: ModalMeta, what: string): View {
  return {
    type: 'modal',
    callback_id: MODALS.reject,
    private_metadata: JSON.stringify(meta),
    title: title('Reject'),
    submit: title('Reject'),
    close: title('Cancel'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: shorten(what, LIMITS.sectionText).text } },
      {
        type: 'input',
        block_id: INPUT.block,
        label: { type: 'plain_text', text: 'What should change?' },
        element: { type: 'plain_text_input', action_id: INPUT.action, multiline: true, max_length: LIMITS.modalInput, placeholder: { type: 'plain_text', text: 'The planner revises the remaining steps with this.' } },
      },
    ],
  };
}

/**
 * The action prefilled when it fits Slack's 3,000-character input; a longer one is shown (in parts)
 * above an empty input for the replacement, rather than silently cut.
 */
export function editModal(meta: ModalMeta, action: string): View {
  const fits = action.length <= LIMITS.modalInput;
  const shown = fits
    ? []
    : splitText(action, LIMITS.sectionText)
        .slice(0, 40)
        .map((p) => ({ type: 'section' as const, text: { type: 'plain_text' as const, text: p } }));
  return {
    type: 'modal',
    callback_id: MODALS.edit,
    private_metadata: JSON.stringify(meta),
    title: title('Edit and approve'),
    submit: title('Approve'),
    close: title('Cancel'),
    blocks: [
      ...(fits ? [] : [{ type: 'context' as const, elements: [{ type: 'mrkdwn' as const, text: `The action has ${action.length.toLocaleString('en')} characters, more than a Slack input holds (3,000). It is shown below; write the replacement in the box.` }] }, ...shown]),
      {
        type: 'input',
        block_id: INPUT.block,
        label: { type: 'plain_text', text: 'Action' },
        element: { type: 'plain_text_input', action_id: INPUT.action, multiline: true, max_length: LIMITS.modalInput, ...(fits ? { initial_value: action } : {}) },
      },
    ],
  };
}

/** The whole of a long approval (code, arguments), read-only. */
export function fullTextModal(heading: string, text: string): View {
  const parts = splitText(text, LIMITS.sectionText - 8);
  const blocks = parts.slice(0, 49).map((p) => ({ type: 'section' as const, text: { type: 'mrkdwn' as const, text: '```' + p + '```' } }));
  if (parts.length > 49) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `_…${(parts.length - 49) * LIMITS.sectionText} more characters not shown._` } });
  return { type: 'modal', title: title(heading), close: title('Close'), blocks };
}

/** The text typed into a modal's one input. */
export function submittedText(values: Record<string, Record<string, { value?: string | null }>>): string {
  return (values[INPUT.block]?.[INPUT.action]?.value ?? '').trim();
}
