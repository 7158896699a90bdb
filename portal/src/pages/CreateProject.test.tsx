import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CreateProjectModal } from './CreateProject';
import { fakeClient, renderWith } from '@/test/render';

describe('CreateProjectModal', () => {
  it('checks the name as the user types and sends a valid one', async () => {
    const calls: { name: string; variables: Record<string, unknown> }[] = [];
    const client = fakeClient((name, vars) => (name === 'CreateProject' ? { createProject: { id: '1', name: (vars.input as { name: string }).name, public: false } } : undefined), calls);
    renderWith(<CreateProjectModal opened onClose={() => {}} />, { client });
    const input = await screen.findByLabelText(/Project name/);
    const submit = screen.getByRole('button', { name: 'Create project' });
    expect(submit).toBeDisabled();

    await userEvent.type(input, 'Team');
    expect(await screen.findByText('Use lowercase letters only.')).toBeInTheDocument();
    expect(submit).toBeDisabled();

    await userEvent.clear(input);
    await userEvent.type(input, 'team--a');
    expect(await screen.findByText(/never two in a row/)).toBeInTheDocument();

    await userEvent.clear(input);
    await userEvent.type(input, 'team-a');
    expect(screen.queryByText(/never two in a row/)).not.toBeInTheDocument();
    expect(submit).toBeEnabled();
    await userEvent.click(submit);
    expect(calls.find((c) => c.name === 'CreateProject')?.variables).toEqual({ input: { name: 'team-a', description: '', public: false } });
  });
});
