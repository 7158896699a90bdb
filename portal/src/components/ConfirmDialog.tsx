import { useState, type ReactNode } from 'react';
import { Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';

interface ConfirmDialogProps {
  opened: boolean;
  onClose: () => void;
  /** Runs the action; the dialog closes when it resolves to true. */
  onConfirm: () => Promise<boolean>;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When set, the user must type this text before the button enables. */
  typeToConfirm?: string;
  color?: string;
}

/** ConfirmDialog asks before something irreversible, saying exactly what will go. */
export function ConfirmDialog({ opened, onClose, onConfirm, title, children, confirmLabel, typeToConfirm, color = 'red' }: ConfirmDialogProps) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const ready = !typeToConfirm || typed === typeToConfirm;
  const close = () => {
    setTyped('');
    onClose();
  };
  return (
    <Modal opened={opened} onClose={close} title={<Text fw={600}>{title}</Text>} centered>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ready || busy) return;
          setBusy(true);
          const ok = await onConfirm();
          setBusy(false);
          if (ok) close();
        }}
      >
        <Stack>
          <div>{children}</div>
          {typeToConfirm && (
            <TextInput
              label={
                <>
                  Type <b>{typeToConfirm}</b> to confirm
                </>
              }
              value={typed}
              onChange={(e) => setTyped(e.currentTarget.value)}
              data-autofocus
              autoComplete="off"
            />
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={close}>
              Cancel
            </Button>
            <Button type="submit" color={color} disabled={!ready} loading={busy} data-autofocus={typeToConfirm ? undefined : true}>
              {confirmLabel}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
