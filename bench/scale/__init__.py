"""A discrete-event model of S3, SQS + Lambda and DynamoDB at sizes no machine here can hold (a billion objects),
with the peers and Eraser's engine on it. See docs/performance.md, "At scale (model)"."""
