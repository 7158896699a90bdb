package graph

import (
	"encoding/json"
	"strings"

	"github.com/riverqueue/river/rivertype"

	"github.com/berth-registry/berth/graph/model"
)

// jobModel is the GraphQL view of a River job row.
func jobModel(j *rivertype.JobRow) *model.Job {
	if j == nil {
		return nil
	}
	args := map[string]any{}
	_ = json.Unmarshal(j.EncodedArgs, &args)
	m := &model.Job{
		ID: int(j.ID), Kind: j.Kind, State: model.JobState(strings.ToUpper(string(j.State))), Queue: j.Queue,
		Attempt: j.Attempt, MaxAttempts: j.MaxAttempts, Args: args,
		CreatedAt: j.CreatedAt, ScheduledAt: j.ScheduledAt, StartedAt: j.AttemptedAt, FinishedAt: j.FinalizedAt,
		Errors: make([]*model.JobError, len(j.Errors)),
	}
	for i, e := range j.Errors {
		m.Errors[i] = &model.JobError{Attempt: e.Attempt, At: e.At, Error: e.Error}
	}
	return m
}
